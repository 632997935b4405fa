"""A local opitios cluster on 127.0.0.1: the sandbox upstream, the machine's PostgreSQL, a Redis primary with a
replica and three sentinels, three opitios instances under gunicorn, nginx in front and Prometheus scraping them.

``make cluster`` / ``make cluster-stop`` (``python -m cluster start|stop``); tests/test_cluster.py starts one
on free ports. deploy/docker-compose.yml is the same topology as containers.
"""
