# Two commands: `make run` (set up + serve on SQLite with demo data) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRANSLATIONS := orchestrator/web/translations
MO := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))

.PHONY: run test lint bench worker clean setup browser

setup: $(STAMP) node_modules/.installed $(MO)

$(STAMP): pyproject.toml
	@$(PY) -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" 2>/dev/null || { echo "Python 3.11 is needed (found: $(PY))"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Front-end libraries from npm, versions pinned in package.json / package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

# Browser tests use Debian's Chromium; try to install it where we may (root with apt),
# otherwise the browser tests are skipped with the reason shown.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "Chromium is not installed and cannot be installed here: browser tests will be skipped"; }

run: setup
	$(BIN)/python run.py serve

test: setup browser
	$(BIN)/python -m pytest -q

# bpmnlint's recommended rules over the project's own diagrams (.bpmnlintrc, pinned in package.json).
lint: $(STAMP) node_modules/.installed
	$(BIN)/ruff check .
	node_modules/.bin/bpmnlint processes/*.bpmn

bench: setup
	$(BIN)/python bench/complete_tasks.py
	$(BIN)/python bench/long_case.py

worker: $(STAMP)
	$(BIN)/python run.py worker

clean:
	rm -rf $(VENV) instance *.egg-info node_modules
