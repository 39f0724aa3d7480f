# The PyTorch bootstrap (docs/PYTORCH.md): installed next to the collector,
# $(pkglibdir)/python, where `memtrace record` finds it (build tree:
# collector/python, found from collector/.libs/).  Included from
# tests/python/local.mk.
mtpythondir = $(pkglibdir)/python
mtpython_DATA = collector/python/sitecustomize.py
mtpythonpkgdir = $(pkglibdir)/python/memtrace
mtpythonpkg_DATA = collector/python/memtrace/__init__.py collector/python/memtrace/_native.py \
	collector/python/memtrace/_alloc.py collector/python/memtrace/_torch.py collector/python/memtrace/_ops.py \
	collector/python/memtrace/_tracker.py collector/python/memtrace/_tracker.cpp
EXTRA_DIST += $(mtpython_DATA) $(mtpythonpkg_DATA) collector/python/local.mk
