"""Import every model module so ``Base.metadata`` knows all tables (Alembic, tests, create_all)."""

import accounts.models  # noqa: F401
import capacity.models  # noqa: F401
import csmatch.models  # noqa: F401
import placement.models  # noqa: F401
import providers.models  # noqa: F401
import referrals.models  # noqa: F401
from csmatch.db import Base

metadata = Base.metadata
