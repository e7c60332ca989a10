"""opslab: the plumbing shared by the MLOps & Deployment course's notebooks."""

from opslab.data import FEATURES, TARGET, make_customers, make_traffic
from opslab.env import setup_lab

__all__ = ["FEATURES", "TARGET", "make_customers", "make_traffic", "setup_lab"]
__version__ = "0.1.0"
