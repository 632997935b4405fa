"""Runtime configuration: operator-edited rows of ``api_configurations``, validated and hot-reloaded."""
