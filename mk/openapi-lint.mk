# mk/openapi-lint.mk — the OpenAPI linter that `make test` runs.
#   make test-deps       also installs @redocly/cli (pinned by
#                        tools/openapi-lint/package-lock.json) into
#                        $(BUILD)/tools/openapi-lint with npm, once: later runs
#                        find it there, and after `make clean` npm's cache
#                        serves it without network.
#   make lint-openapi    the lint alone: tests/http/test_openapi_lint.py, which
#                        `make test` also runs (suite "openapi-lint"; rules in
#                        redocly.yaml, accepted problems in .redocly.lint-ignore.yaml).
# When npm cannot install it, the install step says why and the openapi-lint
# suite fails: the lint never skips silently.

.PHONY: lint-openapi

OPENAPI_LINT_DIR := $(BUILD)/tools/openapi-lint
OPENAPI_LINT := $(OPENAPI_LINT_DIR)/node_modules/.bin/redocly

# A failed install leaves no $(OPENAPI_LINT): the next make tries again, and
# the suite fails with the reason meanwhile (the other suites still run).
$(OPENAPI_LINT): tools/openapi-lint/package.json tools/openapi-lint/package-lock.json
	@tools/openapi-lint/install.sh $(OPENAPI_LINT_DIR) || true

test-deps: $(OPENAPI_LINT)

lint-openapi: $(OPENAPI_LINT)
	@BALLASTD=$(BUILD)/ballastd $(PYTHON) tests/http/test_openapi_lint.py
