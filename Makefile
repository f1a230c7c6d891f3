# Two entry points a newcomer needs: `make run` and `make test`.
# Both create the virtualenv at .venv/ when it is missing.
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test venv
venv: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh

run: $(STAMP)
	$(VENV)/bin/kb serve

test: $(STAMP)
	bash scripts/test.sh
