raise RuntimeError("distill-broken fails to import on purpose")
