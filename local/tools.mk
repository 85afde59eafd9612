# The two real peers built from Go modules, pinned in one place. They land in a cache outside git,
# built once per machine and reused; a livekit-server already on PATH is used instead of building one.
TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/reels-live/bin

LIVEKIT_SERVER_MODULE := github.com/livekit/livekit-server/cmd/server
LIVEKIT_SERVER_VERSION := v1.13.5
# RIE's v1.x tags are not valid semantic versions, so the module proxy serves it only as a pseudo-version.
RIE_MODULE := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

LIVEKIT_SERVER_BIN ?= $(or $(shell command -v livekit-server 2>/dev/null),$(TOOLS_DIR)/livekit-server-$(LIVEKIT_SERVER_VERSION))
RIE_BIN ?= $(TOOLS_DIR)/aws-lambda-rie-$(RIE_VERSION)

# go_install <module> <version> <installed binary name> <target path>
define go_install
	@command -v go >/dev/null || { echo "Go is needed once to build $(3) ($(1)@$(2)); install Go >= 1.23 and re-run." >&2; exit 1; }
	@echo "building $(3) $(2) with go install (once per machine; the first build takes a few minutes)..."
	@start=$$(date +%s); tmp=$$(mktemp -d); \
	  GOBIN=$$tmp GOFLAGS=-mod=mod go install $(1)@$(2) && mkdir -p $(dir $(4)) && mv $$tmp/$(3) $(4); \
	  status=$$?; rm -rf $$tmp; echo "$(notdir $(4)): built in $$(( $$(date +%s) - start ))s"; exit $$status
endef
