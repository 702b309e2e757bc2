"""The live shell: the faust app, its agents, web endpoints, metrics, embedded broker.

Everything Kafka-, faust- or HTTP-shaped lives here, thin around the pure core.
"""
