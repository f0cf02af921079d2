"""One contract check per component kind; :func:`editrl.testing.check_component` dispatches by ``cls.kind``."""
