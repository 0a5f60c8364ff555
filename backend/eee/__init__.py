"""The Every Eval Ever (EEE) export: an experiment's results in the EvalEval Coalition's shared schema.

The schemas (every-eval-ever 0.3.0) ship unchanged in data/, with their attribution; the package itself
needs Python 3.12, so seedscope builds the records itself (aggregate, instances) and its tests validate them
against these files, as the import of instance records (backend.imports.eee_instances) validates each line.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable

SCHEMA_VERSION = "0.3.0"
SCHEMAS: Traversable = files(__name__) / "data"
