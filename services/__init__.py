"""The four Parley services, each runnable alone (``python -m services.<name>``) or together
(``parley serve``)."""
