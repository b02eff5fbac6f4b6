# mk/format.mk — the C style, one rule for the whole tree: .clang-format.
#   make format         rewrite every C file in place
#   make format-check   fail on any file clang-format would change (part of `make test`)
# Tables whose rows read best one per line (the field tables, the option
# table) are fenced with `clang-format off` / `on` comments.

.PHONY: format format-check format-deps

FORMAT_SRC := $(sort $(wildcard lib/*.[ch] api/*.[ch] server/*.[ch] cli/*.c bench/*.[ch] fuzz/*.c \
	tests/unit/*.[ch] tests/chaos/*.c tests/fuzz/*.c tests/contract/*.c tests/cxx/*.cpp))
CLANG_FORMAT ?= clang-format

format-deps:
	@command -v $(CLANG_FORMAT) >/dev/null || tools/apt-install.sh "the C formatter" clang-format

format: | format-deps
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check: | format-deps
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files follow .clang-format"

test: | format-check
