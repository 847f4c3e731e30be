# sendshim - LD_PRELOAD interposition of the send family.
# `make` builds build/libsendshim.so; `make check` runs every test.

SHELL    := /bin/bash
CC       ?= gcc
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := 0.1.0

BUILD    := build
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
# The library's folders (README "How it is built"): each is one part of the
# path; headers are included by name, every folder is on the include path.
SHIM_DIRS := shim/core shim/fd shim/flags shim/normalize shim/faults shim/interpose
SHIM_INC  := -Ishim $(SHIM_DIRS:%=-I%)
LIBCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -D_GNU_SOURCE \
            -DSENDSHIM_BUILDING_LIBRARY -DSENDSHIM_VERSION='"$(VERSION)"' $(SHIM_INC)
TESTCFLAGS = -std=gnu11 $(WARN) -O1 -g -D_GNU_SOURCE $(SHIM_INC) -Itests

# Everything but the wrappers (the core archive the unit tests and the ctl
# helper link), and the wrappers.
CORE_SRCS      := $(sort $(foreach d,$(filter-out shim/interpose,$(SHIM_DIRS)),$(wildcard $(d)/*.c)))
INTERPOSE_SRCS := $(sort $(wildcard shim/interpose/*.c))
CORE_OBJS      := $(CORE_SRCS:shim/%.c=$(BUILD)/obj/%.o)
INTERPOSE_OBJS := $(INTERPOSE_SRCS:shim/%.c=$(BUILD)/obj/%.o)
HEADERS        := $(wildcard shim/*.h $(SHIM_DIRS:%=%/*.h))
# Each object's header dependencies, written by the compiler (-MMD -MP).
# The .d files name targets, so the default goal is said here: else the first
# object of the first .d file would be what a bare `make` builds.
DEPFLAGS        = -MMD -MP
.DEFAULT_GOAL  := all
-include $(CORE_OBJS:.o=.d) $(INTERPOSE_OBJS:.o=.d)

UNIT_SRCS      := $(sort $(wildcard tests/unit/*.c))
INTEG_SRCS     := $(sort $(wildcard tests/integration/*.c))
TARGET_SRCS    := $(sort $(wildcard tests/targets/*.c))
TARGET_SRCS    := $(filter-out tests/targets/early_lib.c tests/targets/early.c,$(TARGET_SRCS))
TARGETS        := $(TARGET_SRCS:tests/targets/%.c=$(BUILD)/targets/%) $(BUILD)/targets/early

LIB            := $(BUILD)/libsendshim.so
CORE_LIB       := $(BUILD)/libsendshim_core.a
CTL            := $(BUILD)/sendshim-ctl

.PHONY: all check test unit integration bench bench-server lint install uninstall clean criterion fuzz fuzz-smoke

all: $(LIB) $(CTL)

$(BUILD)/obj/%.o: shim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJS) $(INTERPOSE_OBJS) shim/exports.map
	$(CC) -shared -o $@ $(CORE_OBJS) $(INTERPOSE_OBJS) \
	    -Wl,--version-script=shim/exports.map -Wl,-z,now -Wl,-z,relro -Wl,--no-undefined -ldl

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# `sendshim ctl`'s helper (SPEC 14): the rule parser and the control file's
# layout are the library's own.
$(CTL): scripts/sendshim-ctl.c $(CORE_LIB) $(HEADERS)
	$(CC) -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -DSENDSHIM_BUILDING_LIBRARY $(SHIM_INC) $< $(CORE_LIB) -o $@ -ldl -lpthread

# --- tests -----------------------------------------------------------------

# Criterion comes from Debian's libcriterion-dev. make installs nothing
# (.ci/run does, as root): when it is missing, the command that would install
# it is printed.
criterion:
	@printf '#include <criterion/criterion.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 || { \
	  echo "Criterion is missing; install it with: sudo apt-get install libcriterion-dev" >&2; exit 1; }

$(BUILD)/targets/%: tests/targets/%.c shim/sendshim.h tests/targets/target.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) -pthread $< -o $@ -ldl

# A library whose constructor sends (and sets SO_NOSIGPIPE or fault rules)
# before ours runs, and a program using it.
$(BUILD)/targets/libearly.so: tests/targets/early_lib.c shim/sendshim.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) -fPIC -shared $< -o $@ -ldl

$(BUILD)/targets/early: tests/targets/early.c $(BUILD)/targets/libearly.so
	$(CC) $(TESTCFLAGS) $< -o $@ -L$(BUILD)/targets -learly -Wl,-rpath,'$$ORIGIN'

$(BUILD)/tests/unit: $(UNIT_SRCS) $(CORE_LIB) | criterion
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) -DSENDSHIM_BUILDING_LIBRARY $(UNIT_SRCS) $(CORE_LIB) -o $@ -lcriterion -ldl

$(BUILD)/tests/integration: $(INTEG_SRCS) tests/harness.c tests/harness.h | criterion
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $(INTEG_SRCS) tests/harness.c -o $@ -lcriterion -lpthread

unit: $(BUILD)/tests/unit
	$(BUILD)/tests/unit --short-filename

integration: $(LIB) $(CTL) $(TARGETS) $(BUILD)/tests/integration
	SENDSHIM_TOP=$(CURDIR) $(BUILD)/tests/integration --short-filename

# --- fuzzing ---------------------------------------------------------------------
# libFuzzer targets for the normalizer and the configuration/rule parser, with
# ASan and UBSan. `make fuzz` runs each for FUZZ_SECONDS (default 600);
# `make check` runs each for FUZZ_SMOKE_SECONDS on a copy of its seed corpus.
FUZZ_CC            ?= clang-14
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE \
             -DSENDSHIM_BUILDING_LIBRARY $(SHIM_INC)
FUZZ_NORMALIZE_SRCS = shim/normalize/normalize.c shim/normalize/norm_cmsg.c shim/normalize/cmsg_bsd.c \
                      shim/core/fmt.c shim/core/errnames.c
FUZZ_CONFIG_SRCS    = shim/core/config.c shim/faults/rules.c shim/core/fmt.c shim/core/errnames.c

$(BUILD)/fuzz/fuzz_normalize: tests/fuzz/fuzz_normalize.c $(FUZZ_NORMALIZE_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_NORMALIZE_SRCS) -o $@

$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_CONFIG_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_CONFIG_SRCS) -o $@

FUZZERS = normalize config

# The working corpus grows in build/fuzz/; the seeds in tests/fuzz/ stay as committed.
fuzz: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	for f in $(FUZZERS); do \
	  mkdir -p $(BUILD)/fuzz/corpus_$$f && \
	  $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=20000 -print_final_stats=1 \
	      $(BUILD)/fuzz/corpus_$$f tests/fuzz/corpus_$$f || exit 1; \
	done

fuzz-smoke: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	for f in $(FUZZERS); do \
	  rm -rf $(BUILD)/fuzz/corpus_$$f && cp -r tests/fuzz/corpus_$$f $(BUILD)/fuzz/corpus_$$f && \
	  $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SMOKE_SECONDS) -max_len=20000 -print_final_stats=1 \
	      $(BUILD)/fuzz/corpus_$$f tests/fuzz/corpus_$$f 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
	  test "$${PIPESTATUS[0]}" = 0 || exit 1; \
	done

# Also in check: ThreadSanitizer over the stress targets (~40 s) and the
# integration suite with library and targets built by musl-gcc (~15 s); the
# long runs (make stress, make sanitize, make fuzz) stay out.
check: unit integration fuzz-smoke tsan musl-check

test: check

# --- static checks -----------------------------------------------------------

FORMAT_FILES = $(wildcard shim/*.h $(SHIM_DIRS:%=%/*.c) $(SHIM_DIRS:%=%/*.h) \
               tests/*.c tests/*.h tests/unit/*.c tests/integration/*.c tests/targets/*.c tests/targets/*.h \
               tests/fuzz/*.c tests/bench/*.c scripts/*.c)
SHELL_SCRIPTS = scripts/sendshim .ci/run $(wildcard scripts/*.sh tests/*.sh tests/*/*.sh)

lint:
	$(MAKE) -s -B $(LIB) CFLAGS="$(CFLAGS) -Werror"
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --inline-suppr -D__GNUC__ -D_GNU_SOURCE $(SHIM_INC) shim
	@for h in $(HEADERS); do \
	  [ "$$(grep -c 'visibility push' $$h)" = "$$(grep -c 'visibility pop' $$h)" ] || \
	    { echo "$$h: #pragma GCC visibility push without its pop" >&2; exit 1; }; \
	done
	shellcheck $(SHELL_SCRIPTS)
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)

include tests/bench/Makefile.inc
include tests/install/Makefile.inc
include tests/stress/Makefile.inc
