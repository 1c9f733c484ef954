"""cache: caches answers, positive and negative, for their TTL within set bounds."""

from kdns.corefile import PluginSpec
from kdns.plugins.cache.config import Bucket, CacheConfig, Prefetch, ServeStale, parse
from kdns.plugins.cache.handler import Cache
from kdns.plugins.wire import Key, query_key

SPEC = PluginSpec("cache", parse, once=True, support="served", build=Cache)

__all__ = ["SPEC", "Bucket", "Cache", "CacheConfig", "Key", "Prefetch", "ServeStale", "query_key"]
