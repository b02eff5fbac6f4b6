# mk/install.mk — the command-line tool, the shared library, and install.
#   make                  also builds build/ballast (CLI), build/libballast.so.$(BALLAST_VERSION)
#                         and the man pages with their version filled in (build/man/)
#   make install          PREFIX=/usr/local DESTDIR= (staging root, for packagers)
#   make uninstall        the same variables; removes exactly the files install writes
# Directories follow the GNU names and can each be overridden: BINDIR, LIBDIR,
# INCLUDEDIR, PKGCONFIGDIR, MANDIR. After installing into the system (no
# DESTDIR, as root) ldconfig refreshes the loader's cache; LDCONFIG= skips it.

# The version is BL_VERSION in lib/ballast.h, not a second copy here; the
# soname carries its major number (0.1.0 → libballast.so.0).
BALLAST_VERSION := $(shell sed -n 's/^.define BL_VERSION "\(.*\)".*/\1/p' lib/ballast.h)
BALLAST_SOMAJOR := $(firstword $(subst ., ,$(BALLAST_VERSION)))
SHLIB_REAL      := libballast.so.$(BALLAST_VERSION)
SHLIB_SONAME    := libballast.so.$(BALLAST_SOMAJOR)

PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR       ?= $(PREFIX)/share/man
INSTALL      ?= install
LDCONFIG     ?= ldconfig

CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
MAN_SRC := man/ballastd.8 man/ballast.1
MAN_OUT := $(MAN_SRC:man/%=$(BUILD)/man/%)

# ldconfig after (un)installing into the system itself: no DESTDIR, as root.
ldconfig_cmd = $(if $(and $(LDCONFIG),$(if $(DESTDIR),,system)),\
	if [ "$$(id -u)" = 0 ]; then $(LDCONFIG) || true; fi,:)

.PHONY: install uninstall
all: $(BUILD)/ballast $(BUILD)/$(SHLIB_REAL) $(MAN_OUT)

# The CLI goes through the same api layer as ballastd: bl_api_call.
$(BUILD)/ballast: $(CLI_OBJ) $(BALLAST_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LINK_LIBS)

# The shared library is the core only (lib/, the objects of libballast.a,
# already -fPIC); --no-undefined makes a missing -lm a link error here rather
# than in a user's program.
$(BUILD)/$(SHLIB_REAL): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SHLIB_SONAME) -Wl,--no-undefined \
		-o $@ $(LIB_OBJ) $(LDLIBS_LIB)

$(BUILD)/man/%: man/% lib/ballast.h
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(BALLAST_VERSION)/g' $< > $@

# pkg-config file: directories under PREFIX are written relative to
# ${prefix}, so that pkg-config --define-prefix can relocate the tree.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(BUILD)/ballastd $(BUILD)/ballast $(BUILD)/libballast.a $(BUILD)/$(SHLIB_REAL) \
		lib/ballast.h $(MAN_OUT)
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" \
		"$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man8"
	$(INSTALL) -m 755 $(BUILD)/ballastd $(BUILD)/ballast "$(DESTDIR)$(BINDIR)/"
	$(INSTALL) -m 644 $(BUILD)/libballast.a "$(DESTDIR)$(LIBDIR)/libballast.a"
	$(INSTALL) -m 755 $(BUILD)/$(SHLIB_REAL) "$(DESTDIR)$(LIBDIR)/$(SHLIB_REAL)"
	ln -sfn $(SHLIB_REAL) "$(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)"
	ln -sfn $(SHLIB_REAL) "$(DESTDIR)$(LIBDIR)/libballast.so"
	$(INSTALL) -m 644 lib/ballast.h "$(DESTDIR)$(INCLUDEDIR)/ballast.h"
	$(INSTALL) -m 644 $(BUILD)/man/ballast.1 "$(DESTDIR)$(MANDIR)/man1/ballast.1"
	$(INSTALL) -m 644 $(BUILD)/man/ballastd.8 "$(DESTDIR)$(MANDIR)/man8/ballastd.8"
	printf '%s\n' \
		'prefix=$(PREFIX)' \
		'libdir=$(call pc_dir,$(LIBDIR))' \
		'includedir=$(call pc_dir,$(INCLUDEDIR))' \
		'' \
		'Name: ballast' \
		'Description: class weights, weighted sampling and PyTorch-exact losses (libballast)' \
		'Version: $(BALLAST_VERSION)' \
		'Libs: -L$${libdir} -lballast' \
		'Libs.private: -lmvec -lm' \
		'Cflags: -I$${includedir}' \
		> "$(DESTDIR)$(PKGCONFIGDIR)/ballast.pc"
	chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/ballast.pc"
	@$(ldconfig_cmd)

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/ballastd" "$(DESTDIR)$(BINDIR)/ballast" \
		"$(DESTDIR)$(LIBDIR)/libballast.a" "$(DESTDIR)$(LIBDIR)/$(SHLIB_REAL)" \
		"$(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)" "$(DESTDIR)$(LIBDIR)/libballast.so" \
		"$(DESTDIR)$(INCLUDEDIR)/ballast.h" "$(DESTDIR)$(PKGCONFIGDIR)/ballast.pc" \
		"$(DESTDIR)$(MANDIR)/man1/ballast.1" "$(DESTDIR)$(MANDIR)/man8/ballastd.8"
	@$(ldconfig_cmd)
