"""Product recommendations from a catalog and a log of user interactions.

A plain library: pandas, numpy, scipy, scikit-learn, redis and SQLAlchemy, nothing from Flask.
"""
