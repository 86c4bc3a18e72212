"""Government services (政务服务): the licensing-item catalogue and licence decisions."""
