"""What the street office reads: the status page and its CSV (``status_page``, ``templates/``)."""
