"""cache: caches answers, positive and negative, for their TTL within set bounds."""

from kdns.corefile import PluginSpec
from kdns.plugins.cache.config import Bucket, CacheConfig, Prefetch, ServeStale, parse

SPEC = PluginSpec("cache", parse, once=True)

__all__ = ["SPEC", "Bucket", "CacheConfig", "Prefetch", "ServeStale"]
