"""Supervision: the city's regulatory data centre (监管数据中心)."""
