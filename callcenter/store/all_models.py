"""Import every module that declares tables, so the metadata (and Alembic) sees them all."""

from callcenter.audit import models as audit_models  # noqa: F401
from callcenter.auth import models as auth_models  # noqa: F401
from callcenter.callctl import models as callctl_models  # noqa: F401
from callcenter.intake import models as intake_models  # noqa: F401
from callcenter.kb import models as kb_models  # noqa: F401
from callcenter.sms import models as sms_models  # noqa: F401
from callcenter.store import models  # noqa: F401
from callcenter.workorders import drafts as workorder_drafts  # noqa: F401
from callcenter.workorders import models as workorder_models  # noqa: F401
