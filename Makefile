# ballast — build, run and test.
#   make            build build/ballastd, build/libballast.a
#   make run        build (daemon, CLI, library, man pages), then serve on
#                   127.0.0.1:8080 in the foreground
#   make test       every test suite (unit, api, conformance, HTTP)
#   make help       every target, in one screen
#   make clean
# Missing Debian packages (libmicrohttpd, jansson, check, ...) are installed
# with apt-get by `make deps`, which every other target runs first.

CC      ?= cc
BUILD   ?= build
PORT    ?= 8080
# The tests' Python: Debian's, where the Debian packages they use (numpy,
# yaml, jsonschema, requests) are installed; python3 on PATH otherwise.
PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
PKGS    := libmicrohttpd jansson check
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -fPIC -Ilib -Iapi
LDLIBS_LIB := -lmvec -lm
MHD_LIBS    = $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
JANSSON_LIBS = $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
CHECK_LIBS  = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
# The one link line. Every program on the api layer (ballastd, the CLI, the
# tests, bench, fuzz) links BALLAST_LIBS, the api before the core, then
# SYSTEM_LIBS, what those two need; a program adds its own libraries
# (libmicrohttpd, Check) after LINK_LIBS. The chaos test and the fuzzer
# link the same code as objects or sources, then SYSTEM_LIBS.
BALLAST_LIBS = $(BUILD)/libballast_api.a $(BUILD)/libballast.a
SYSTEM_LIBS  = $(JANSSON_LIBS) -lpthread $(LDLIBS_LIB)
LINK_LIBS    = $(BALLAST_LIBS) $(SYSTEM_LIBS)

LIB_SRC    := $(wildcard lib/*.c)
API_SRC    := $(wildcard api/*.c)
SERVER_SRC := $(wildcard server/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
API_OBJ    := $(API_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all run test test-deps test-deps-clients deps clean help
all: $(BUILD)/ballastd $(BUILD)/libballast.a

deps:
	@{ pkg-config --exists $(PKGS) 2>/dev/null && command -v python3 >/dev/null && \
	   command -v curl >/dev/null; } || tools/install-deps.sh

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libballast.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# api/openapi.yaml is compiled in, so that GET /openapi.yaml reads no file.
$(BUILD)/gen/openapi.c: api/openapi.yaml
	@mkdir -p $(dir $@)
	{ echo '/* generated from api/openapi.yaml by the Makefile */'; \
	  echo '#include <stddef.h>'; echo 'static const char doc[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; \
	  echo 'const char *bl_api_openapi(size_t *len) { if (len) *len = sizeof doc - 1; return doc; }'; \
	} > $@

$(BUILD)/obj/gen/openapi.o: $(BUILD)/gen/openapi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/libballast_api.a: $(API_OBJ) $(BUILD)/obj/gen/openapi.o
	rm -f $@ && ar rcs $@ $^

# server/docs.c assembles the /docs files in (.incbin): rebuild when they change.
$(BUILD)/obj/server/docs.o: $(wildcard server/docs/*.* server/docs/swagger-ui/*)

# ballastd counts every allocation of its own code against its memory
# budget (server/budget.c): malloc and friends are wrapped at link time.
BUDGET_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=free
$(BUILD)/ballastd: $(SERVER_OBJ) $(BALLAST_LIBS)
	$(CC) $(CFLAGS) $(BUDGET_WRAP) -o $@ $(SERVER_OBJ) $(LINK_LIBS) $(MHD_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BALLAST_LIBS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LINK_LIBS) $(CHECK_LIBS)

# Further targets (install, fuzz, sanitizers, docker-check, bench, ...) live
# in mk/*.mk; they may add test programs to EXTRA_TEST_BINS.
EXTRA_TEST_BINS :=
-include $(sort $(wildcard mk/*.mk))

run: all
	$(BUILD)/ballastd --port $(PORT)

help:
	@echo 'ballast — make targets (variables: BUILD=$(BUILD) PORT=$(PORT) PREFIX=$(PREFIX))'
	@echo '  make                build build/ballastd, build/ballast (CLI), libballast (.a, .so), man pages'
	@echo '  make run            build, then serve on 127.0.0.1:$$PORT in the foreground'
	@echo '  make test           every test suite; ends with "total: N passed, M failed"'
	@echo '  make install        PREFIX=/usr/local DESTDIR= ; make uninstall removes the same files'
	@echo '  make bench          benchmarks side by side with PyTorch and nginx -> bench/RESULTS.md'
	@echo '  make bench-overload the long overload run -> bench/OVERLOAD.md'
	@echo '  make bench-numparse, make bench-dtoa   number parsing and printing, in-process'
	@echo '  make lint-openapi   @redocly/cli over api/openapi.yaml (part of make test)'
	@echo '  make format, make format-check   clang-format over the C tree (the check is part of make test)'
	@echo '  make check-sanitize the whole suite under ASan + UBSan (build-sanitize/)'
	@echo '  make check-valgrind the Check programs under valgrind'
	@echo '  make fuzz, make fuzz-run FUZZ_SECONDS=N   the libFuzzer target'
	@echo '  make docker-check   the Dockerfile replayed without Docker'
	@echo '  make clean          remove $(BUILD)/'

test: all $(UNIT_TESTS) $(EXTRA_TEST_BINS) | test-deps
	@PYTHON=$(PYTHON) tests/run.sh $(BUILD)

# What the test suites need beyond the build: Debian's python3 with numpy,
# requests, yaml and jsonschema, curl, and Node.js (the example client).
test-deps:
	@{ $(PYTHON) -c 'import numpy, requests, yaml, jsonschema' 2>/dev/null && \
	   command -v curl >/dev/null && command -v node >/dev/null; } || tools/install-deps.sh --test

# The client packages' suites (tests/http/test_client_*.py) also need PyTorch, pip and
# venv (the offline `pip install ./clients/python` into a venv: Debian's python3-venv)
# and Go (clients/go).
test-deps: test-deps-clients
test-deps-clients:
	@{ $(PYTHON) -c 'import torch, pip, ensurepip, imblearn' 2>/dev/null && command -v go >/dev/null && \
	   { ! command -v dpkg-query >/dev/null || \
	     dpkg-query -W -f='$${Status}' python3-venv 2>/dev/null | grep -q 'ok installed'; }; } || \
	   tools/install-deps.sh --test

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
