"""The warehouse extract: writes data/raw/customers.csv.

In a company this is a query against the warehouse; here the course's seeded simulator stands in
for it, so the same parameters always give the same file (and the same hash for DVC).
"""

from pathlib import Path

from features import params

from opslab.data import make_customers

settings = params("extract")
out = Path("data/raw/customers.csv")
out.parent.mkdir(parents=True, exist_ok=True)
make_customers(n=settings["n"], seed=settings["seed"]).to_csv(out, index=False)
print(f"wrote {out}: {settings['n']} customers (seed {settings['seed']})")
