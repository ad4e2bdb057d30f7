"""Job functions run by RQ workers or the in-process executor: they take ids."""
