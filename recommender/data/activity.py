"""Events per hour by action over the log's latest days: counted once per build, for the console's
overview (the events posted since the build are counted from the feedback table on top)."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOURS = 168  # a week


def hourly(interactions: pd.DataFrame, hours: int = HOURS) -> dict:
    """{"start": the first hour (ISO 8601, UTC), "counts": {action: [events in each hour]}} over the
    `hours` hours that end with the hour of the log's latest event; {} for an empty log."""
    if interactions.empty:
        return {}
    ts = interactions["ts"]
    start = ts.max().floor("h") - pd.Timedelta(hours=hours - 1)
    recent = ts >= start
    slots = ((ts[recent] - start) // pd.Timedelta(hours=1)).to_numpy(np.int64)
    actions = interactions.loc[recent, "interaction_type"].astype(str).to_numpy()
    counts = {
        str(action): np.bincount(slots[actions == action], minlength=hours).tolist()
        for action in np.unique(actions)
    }
    return {"start": start.isoformat(), "counts": counts}
