# PGXS build of the alert_grouping extension (C++17). The pure core's unit tests are built
# by CMakeLists.txt; scripts/test runs everything.
EXTENSION = alert_grouping
EXTVERSION = 0.2
MODULE_big = alert_grouping
# Released scripts: the first install script and every update script. The newest version's
# install script is built from them (the first one and the update chain, in order), so a
# fresh install runs exactly what an update does.
BASE_SCRIPT = sql/alert_grouping--0.1.sql
UPDATE_SCRIPTS = sql/alert_grouping--0.1--0.2.sql
DATA = $(BASE_SCRIPT) $(UPDATE_SCRIPTS)
DATA_built = sql/alert_grouping--$(EXTVERSION).sql

OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/core/*.cpp) $(wildcard src/pg/*.cpp)))

PG_CPPFLAGS = -Isrc/core -Isrc/pg
PG_CXXFLAGS = -std=c++17 -fexceptions -Wno-register -Wno-missing-field-initializers
SHLIB_LINK = -lre2 -lstdc++

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=build/regress

# JIT bitcode is of no use for this C++ code, and PGXS does not pass C++ flags to clang.
override with_llvm = no
# Rebuild objects when a header they include changes.
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/alert_grouping--$(EXTVERSION).sql: $(BASE_SCRIPT) $(UPDATE_SCRIPTS)
	cat $^ > $@

installcheck: | build/regress
build/regress:
	mkdir -p $@
