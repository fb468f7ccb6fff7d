"""Request letters to publishers, in French and English, one per publisher.

A letter cites the right exercised and its GDPR article, names every affected model of its
publisher and says why each is concerned (the chain of links from the source). What only the
requester knows (name, contact, the personal data concerned, the date) is left as
placeholders between double brackets, ``[[LIKE THIS]]``, so that nothing is sent half-filled
unnoticed: :data:`PLACEHOLDER` finds them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from filiation.errors import InvalidArgumentError
from filiation.rights.dossier import ARTICLES, Dossier, Publisher, Right, describe_path

LANGUAGES = ("en", "fr")

#: A placeholder the requester must fill.
PLACEHOLDER = re.compile(r"\[\[[^\]]+\]\]")


class Letter(BaseModel):
    publisher: str
    language: str
    subject: str
    body: str
    models: list[str]


_TEXT = {
    "en": {
        "name_access": "the right of access to my personal data",
        "name_erasure": "the right to erasure of my personal data",
        "name_objection": "the right to object to the processing of my personal data",
        "subject": "Request under Article {art} of the GDPR: {n} model(s) published by {pub}",
        "name": "[[YOUR FULL NAME]]",
        "contact": "[[YOUR POSTAL OR E-MAIL ADDRESS]]",
        "data": "[[DESCRIBE THE PERSONAL DATA CONCERNED AND WHERE IT APPEARS]]",
        "date": "[[DATE]]",
        "place": "[[PLACE]]",
        "proof": "[[OPTIONAL: EVIDENCE THAT THE MODEL REPRODUCES YOUR DATA]]",
        "hello": "To the publisher {pub} (Hugging Face Hub: {url}),",
        "intro": (
            "I hereby exercise {right} under Article {art} of the General Data Protection "
            "Regulation (EU) 2016/679 (GDPR)."
        ),
        "source_model": "My personal data ({data}) was processed to train the model {src}.",
        "source_dataset": "My personal data ({data}) is contained in the data set {src}.",
        "suspected": (
            "The following models you publish may also derive from it: no link was declared, "
            "but their metadata suggests one (confidence in brackets). Please check whether "
            "they do and, if so, treat them as above:"
        ),
        "why": (
            "The following models you publish derive from it, and may therefore contain or "
            "reproduce this data. For each, the chain of derivation from {src} (each link as "
            "declared by its publisher on the Hugging Face Hub, or inferred from its metadata):"
        ),
        Right.ACCESS.value: (
            "Please confirm whether you process personal data concerning me in these models or "
            "in the data used to train them, and if so give me a copy of that data and the "
            "information listed in Article 15(1) GDPR (purposes, recipients, storage period, "
            "source of the data)."
        ),
        Right.ERASURE.value: (
            "Please erase my personal data from these models and from the data used to train "
            "them, or stop distributing the models that retain it, and inform every recipient "
            "of the models of this request (Articles 17 and 19 GDPR)."
        ),
        Right.OBJECTION.value: (
            "I object to any further processing of my personal data in these models, including "
            "their training, fine-tuning and distribution. Please stop this processing unless "
            "you demonstrate compelling legitimate grounds which override my interests "
            "(Article 21(1) GDPR)."
        ),
        "deadline": (
            "Under Article 12(3) GDPR you must answer within one month of receiving this "
            "request. If you do not act on it, please tell me why, and note that I may lodge a "
            "complaint with a supervisory authority (Article 77 GDPR)."
        ),
        "evidence": "Evidence: {proof}",
        "bye": "Yours faithfully,",
    },
    "fr": {
        "name_access": "mon droit d'accès à mes données personnelles",
        "name_erasure": "mon droit à l'effacement de mes données personnelles",
        "name_objection": "mon droit d'opposition au traitement de mes données personnelles",
        "subject": (
            "Demande au titre de l'article {art} du RGPD : {n} modèle(s) publié(s) par {pub}"
        ),
        "name": "[[VOS NOM ET PRÉNOM]]",
        "contact": "[[VOTRE ADRESSE POSTALE OU ÉLECTRONIQUE]]",
        "data": "[[DÉCRIVEZ LES DONNÉES PERSONNELLES CONCERNÉES ET OÙ ELLES APPARAISSENT]]",
        "date": "[[DATE]]",
        "place": "[[LIEU]]",
        "proof": "[[FACULTATIF : ÉLÉMENTS MONTRANT QUE LE MODÈLE REPRODUIT VOS DONNÉES]]",
        "hello": "À l'attention de l'éditeur {pub} (Hugging Face Hub : {url}),",
        "intro": (
            "J'exerce par la présente {right}, en application de l'article {art} du règlement "
            "général sur la protection des données (UE) 2016/679 (RGPD)."
        ),
        "source_model": (
            "Mes données personnelles ({data}) ont servi à entraîner le modèle {src}."
        ),
        "source_dataset": (
            "Mes données personnelles ({data}) figurent dans le jeu de données {src}."
        ),
        "suspected": (
            "Les modèles suivants, que vous publiez, pourraient aussi en dériver\u202f: aucun "
            "lien n\u2019est déclaré, mais leurs métadonnées le laissent penser (indice de "
            "confiance entre parenthèses). Merci de vérifier s\u2019ils en dérivent et, le cas "
            "échéant, de les traiter de la même manière\u202f:"
        ),
        "why": (
            "Les modèles suivants, que vous publiez, en dérivent et peuvent donc contenir ou "
            "reproduire ces données. Pour chacun, la chaîne de dérivation depuis {src} (chaque "
            "lien tel que déclaré par son éditeur sur le Hugging Face Hub, ou déduit de ses "
            "métadonnées) :"
        ),
        Right.ACCESS.value: (
            "Je vous prie de me confirmer si vous traitez des données personnelles me "
            "concernant dans ces modèles ou dans les données qui ont servi à les entraîner et, "
            "le cas échéant, de m'en communiquer une copie ainsi que les informations prévues "
            "à l'article 15, paragraphe 1, du RGPD (finalités, destinataires, durée de "
            "conservation, source des données)."
        ),
        Right.ERASURE.value: (
            "Je vous prie d'effacer mes données personnelles de ces modèles et des données qui "
            "ont servi à les entraîner, ou de cesser de diffuser les modèles qui les "
            "conservent, et d'informer chaque destinataire des modèles de la présente demande "
            "(articles 17 et 19 du RGPD)."
        ),
        Right.OBJECTION.value: (
            "Je m'oppose à tout traitement ultérieur de mes données personnelles dans ces "
            "modèles, y compris leur entraînement, leur affinage et leur diffusion. Je vous "
            "prie de cesser ce traitement, à moins que vous ne démontriez des motifs légitimes "
            "et impérieux qui prévalent sur mes intérêts (article 21, paragraphe 1, du RGPD)."
        ),
        "deadline": (
            "En application de l'article 12, paragraphe 3, du RGPD, vous disposez d'un délai "
            "d'un mois à compter de la réception de cette demande pour y répondre. Si vous n'y "
            "donnez pas suite, je vous prie de m'en indiquer les motifs ; je puis introduire "
            "une réclamation auprès d'une autorité de contrôle (article 77 du RGPD)."
        ),
        "evidence": "Éléments : {proof}",
        "bye": "Veuillez agréer mes salutations distinguées.",
    },
}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidArgumentError(f"unknown language {lang!r}; use one of: en, fr")
    return lang


def letter(dossier: Dossier, publisher: Publisher, lang: str = "en") -> Letter:
    """The request to one publisher, naming all its affected models and why."""
    t = _TEXT[check_language(lang)]
    art = dossier.article
    models = dossier.models_of(publisher)
    src = dossier.source_id
    lines = [
        f"{t['name']}",
        f"{t['contact']}",
        "",
        t["hello"].format(pub=publisher.name, url=publisher.url or "-"),
        "",
        t["intro"].format(right=t[f"name_{dossier.right.value}"], art=art),
        t["source_dataset" if dossier.source_kind == "dataset" else "source_model"].format(
            data=t["data"], src=src
        ),
        "",
        t["why"].format(src=src),
        "",
    ]
    for m in models:
        lines.append(f"- {m.id} ({m.url})")
        lines.append(f"  {describe_path(m.path, src, lang)}")
    # Suspected links are guesses: named apart, as something to check, never as a fact.
    maybe = [m for m in dossier.possibly_affected if m.publisher == publisher.name]
    if maybe:
        lines += ["", t["suspected"]]
        for m in maybe:
            conf = min((lk.confidence for lk in m.path if lk.confidence is not None), default=None)
            lines.append(f"- {m.id} ({m.url})" + (f" [{conf:.2f}]" if conf is not None else ""))
    lines += [
        "",
        t[dossier.right.value],
        "",
        t["deadline"],
        "",
        t["evidence"].format(proof=t["proof"]),
        "",
        f"{t['place']}, {t['date']}",
        t["bye"],
        t["name"],
    ]
    subject = t["subject"].format(art=art, n=len(models), pub=publisher.name)
    return Letter(
        publisher=publisher.name,
        language=lang,
        subject=subject,
        body="\n".join(lines),
        models=[m.id for m in models],
    )


def letters(dossier: Dossier, lang: str = "en") -> list[Letter]:
    return [letter(dossier, p, lang) for p in dossier.publishers]


__all__ = ["ARTICLES", "LANGUAGES", "PLACEHOLDER", "Letter", "check_language", "letter", "letters"]
