"""The registry's coded values (learning types, roles, statuses, provenance), apart from the
pydantic records of :mod:`.models` so that the command line can name them in its help without
loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class LearningType(StrEnum):
    SUPERVISED = "supervised"
    UNSUPERVISED = "unsupervised"
    SEMI_SUPERVISED = "semi-supervised"
    REINFORCEMENT = "reinforcement"


#: One line each, shown beside the choice (the web pages translate them: ``reg.lt.*``).
LEARNING_TYPE_DEFINITIONS = {
    LearningType.SUPERVISED: "learns from examples labelled with the expected answer",
    LearningType.UNSUPERVISED: "finds structure in data that carries no labels",
    LearningType.SEMI_SUPERVISED: "learns from a few labelled examples and many unlabelled ones",
    LearningType.REINFORCEMENT: "learns by trial and error from rewards given for its actions",
}


class OrgRole(StrEnum):
    PROVIDER = "provider"
    DEPLOYER = "deployer"


class SystemStatus(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    RETIRED = "retired"


class Provenance(StrEnum):
    """How a registered model's derivation is known."""

    DECLARED = "declared"
    INFERRED = "inferred"


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
