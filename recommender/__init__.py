"""Product recommendations from a catalog and a log of user interactions.

A plain library: pandas, numpy, scipy, scikit-learn, redis and SQLAlchemy, nothing from Flask. Its
sub-packages are the stages the data flows through, data -> models -> ranking -> serving, with
storage (the service's tables), experiments (A/B tests) and evaluation beside them; the commands
(`python -m recommender.build`, `python -m recommender.evaluate`) sit at the top.
"""

import pandas as pd

# pandas keeps its strings in Python objects, as it does without pyarrow installed: the service
# uses Arrow where it reads the interaction log (data/data_loader.py), and everything else keeps
# the behaviour and speed it was measured with.
pd.set_option("mode.string_storage", "python")
