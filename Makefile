# Reproduction of Rui Shu's "Gaussian Mixture VAE" post. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# the interpreter that creates the venv
PYTHON_BOOTSTRAP ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# touched after a successful install: newer than requirements.txt and pyproject.toml until they change
STAMP := $(VENV)/.installed
# cpu (about 1.3 hours on 2 cores); the longer ones only when named: make reproduce PROFILE=post LONG=1 (hours),
# PROFILE=blog LONG=1 (days)
PROFILE ?= cpu
# non-empty: start a plan of more than 3 hours (reproduce --long; refused without it)
LONG ?=
RESULTS ?= results
# where the runs train: local (this machine, one run per core) or ray (a Ray cluster at ADDRESS: host:port or
# auto; empty: a Ray started here for the command)
EXECUTOR ?= local
ADDRESS ?=
RAY_STAMP := $(VENV)/.installed-ray
MUTATION_STAMP := $(VENV)/.installed-mutation
# where make mutation works, afresh each time (mutmut would keep stale copies of the modules it does not mutate)
MUTATION_DIR ?= build/mutation
# mutants tested at once
JOBS ?= 2
# which mutants: empty for all, or mutmut's name patterns, e.g. MUTANTS='gmvae.reproduction.schedule*' (one module)
MUTANTS ?=

.PHONY: help venv venv-ray venv-mutation test mutation reproduce figures lab clean-notebooks

help: ## list the targets
	@echo "Targets (variables: PROFILE=$(PROFILE), RESULTS=$(RESULTS), VENV=$(VENV)):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

$(PY):
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -e .
	touch $(STAMP)

venv: $(STAMP) ## create .venv (python3.11) with the pinned requirements and the package; reinstall when they change

$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -r requirements-ray.txt
	touch $(RAY_STAMP)

venv-ray: $(RAY_STAMP) ## add the Ray extra (requirements-ray.txt) to .venv, for EXECUTOR=ray and the Ray tests

$(MUTATION_STAMP): $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -e ".[mutation]"
	touch $(MUTATION_STAMP)

venv-mutation: $(MUTATION_STAMP) ## add mutmut (the mutation extra) to .venv

test: venv-ray ## run the tests (needs GMVAE_MNIST or the cache), in a network namespace with only loopback where one can be made
	tests/in_loopback_namespace $(PY) -m pytest

mutation: venv-mutation ## mutation score of the modules that decide what is published, draw it and train it (pyproject's [tool.mutmut]; 6,487 mutants, many hours; MUTANTS= a subset)
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)
	cp -a lib $(MUTATION_DIR)/src && cp -a tests results notebooks docs README.md pyproject.toml $(MUTATION_DIR)/
	cd $(MUTATION_DIR) && $(abspath $(VENV))/bin/mutmut run --max-children $(JOBS) $(MUTANTS) > mutmut-run.log && \
	  $(abspath $(VENV))/bin/mutmut results --all true > mutants.txt
	@awk -F': ' '$$2 == "not checked" { next } { module = $$1; gsub(/ /, "", module); sub(/\.x[_ǁ].*/, "", module); total[module]++; \
	  if ($$2 == "killed") killed[module]++ } \
	  END { for (m in total) printf "%-28s %4d killed of %4d (%.0f %%)\n", m, killed[m], total[m], 100 * killed[m] / total[m] }' \
	  $(MUTATION_DIR)/mutants.txt | sort
	@echo "every mutant and its status: $(MUTATION_DIR)/mutants.txt; one mutant's diff: cd $(MUTATION_DIR) && mutmut show NAME"

reproduce: venv $(if $(filter ray,$(EXECUTOR)),venv-ray) ## train PROFILE's missing runs (one per core, or EXECUTOR=ray), then run every notebook with papermill; GMVAE_PRECISION=float32 overrides precision auto
	$(PY) -m gmvae reproduce --profile $(PROFILE) --out $(RESULTS) --executor $(EXECUTOR) $(if $(ADDRESS),--address $(ADDRESS)) $(if $(LONG),--long)

figures: venv ## redraw every figure and table in results/ and docs/findings.md from the committed logs and figure data, without training
	$(PY) -m gmvae figures --results $(RESULTS)

lab: venv ## open the notebooks in JupyterLab (installs jupyterlab into .venv on first use)
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --disable-pip-version-check jupyterlab
	$(VENV)/bin/jupyter lab notebooks/

clean-notebooks: venv ## strip outputs and execution counts from notebooks/*.ipynb (before committing)
	$(PY) -c "from gmvae.reproduction.notebook_runner import strip_notebooks; [print('stripped', p) for p in strip_notebooks()]"
