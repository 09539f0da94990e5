# PGXS build of the alert_grouping extension (C++17). The pure core's unit tests are built
# by CMakeLists.txt; scripts/test runs everything.
EXTENSION = alert_grouping
MODULE_big = alert_grouping
# Install scripts of the released versions and the update scripts between them, all frozen.
# A version's install script is the previous install script followed by the update script
# (made with cat when the version was released), so a fresh install runs exactly what an
# update does; test/upgrade proves the two catalogs equal.
DATA = $(wildcard sql/alert_grouping--*.sql)

OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/core/*.cpp) $(wildcard src/pg/*.cpp)))

PG_CPPFLAGS = -Isrc/core -Isrc/pg
PG_CXXFLAGS = -std=c++17 -fexceptions -fno-omit-frame-pointer -Wno-register -Wno-missing-field-initializers
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

installcheck: | build/regress
build/regress:
	mkdir -p $@

# The HTTP receiver, a program of its own (src/receiver), installed next to PostgreSQL's
# programs: Debian's cpp-httplib and libpq.
RECEIVER = alert_grouping_receiver
RECEIVER_SRCS = $(sort $(wildcard src/receiver/*.cpp))
EXTRA_CLEAN = $(RECEIVER)
all: $(RECEIVER)
$(RECEIVER): $(RECEIVER_SRCS) $(wildcard src/receiver/*.hpp)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -I$(shell $(PG_CONFIG) --includedir) \
	  $(shell pkg-config --cflags cpp-httplib) $(RECEIVER_SRCS) -o $@ \
	  -L$(shell $(PG_CONFIG) --libdir) -lpq $(shell pkg-config --libs cpp-httplib) -pthread
install: install-receiver
install-receiver: $(RECEIVER)
	$(INSTALL_PROGRAM) $(RECEIVER) '$(DESTDIR)$(bindir)/$(RECEIVER)'
.PHONY: install-receiver
