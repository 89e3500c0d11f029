# Pictor — developer entry points. Each target is a thin wrapper around a
# script in scripts/, so the same steps run the same way from CI (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test gen check-gen build fmt clean-dev bench bench-config bench-fleet bench-hostile bench-miss

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## install what is missing, start the whole stack locally, print URLs (Ctrl-C stops it)
	@scripts/dev.sh

test: ## every check and test: generated code, gofmt, vet, unit, integration, end-to-end
	@scripts/test.sh

bench: ## benchmarks (not part of make test): cache hits vs nginx, mixed workload, transforms vs vipsthumbnail, hostile load, cold misses vs the engine, config push, fleet scale
	@scripts/bench.sh

bench-hostile: ## one edge (512 MiB budget) under heavy misses, slow clients and hits at once: peak RSS, answers, hit p99
	@bash scripts/bootstrap.sh --bench
	@scripts/bench-hostile.sh

bench-miss: ## one edge's cold misses (every request a new 12/18 MP source) vs its own engine: req/s ÷ img/s >= 0.95, peak RSS
	@bash scripts/bootstrap.sh --bench
	@scripts/bench-miss.sh

bench-config: ## config propagation to 50 edges, p50/p99 (target p99 < 200 ms)
	@bash scripts/bootstrap.sh --bench
	@scripts/bench-config.sh

bench-fleet: ## config push at SaaS scale: 10,000 tenants, 100 edges, 2 replicas; changes, purges, bytes, memory, cold starts, a replica killed
	@bash scripts/bootstrap.sh --bench
	@scripts/bench-fleet.sh

gen: ## regenerate the protobuf Go code under proto/
	@scripts/gen.sh

check-gen: ## fail if the committed protobuf Go code differs from what make gen produces
	@scripts/gen.sh --check

build: ## build controlplane, edge and demo-origin into .dev/bin
	@scripts/build.sh

fmt: ## gofmt every Go file (generated *.pb.go excluded)
	@scripts/gofmt.sh -w

clean-dev: ## stop the dev stack and delete its data under .dev (keeps .dev/bin)
	@scripts/dev.sh clean
