# mk/deploy.mk — the container image and the cluster configuration.
#   make docker-check   replay the Dockerfile without Docker (debootstrap + chroot; root;
#                       a few minutes, the Debian base cached under $(BUILD)/docker-check/cache)
#   make deploy-deps    nginx and PyYAML, which `make test` needs for tests/http/test_deploy.py
#                       and test_cluster.py; installed from Debian when missing
# Files: Dockerfile, .dockerignore, docker/ (compose.yaml, nginx.conf, k8s/), tools/dockerfile.py
# (the Dockerfile parser the check and the tests share), tools/docker-check.sh.

.PHONY: docker-check deploy-deps

# Not part of `make test`: it bootstraps Debian and runs `make test` inside the image build.
docker-check:
	tools/docker-check.sh $(BUILD)

# Order-only: installed before the suites run, never a reason to rebuild.
test: | deploy-deps

deploy-deps:
	@{ { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 && \
	   $(PYTHON) -c 'import yaml' 2>/dev/null; } || PYTHON=$(PYTHON) tools/install-deploy-deps.sh
