# Everyday tasks. `make test` installs the stand-ins first, so it works on a
# fresh clone (Python 3.11+, Node 20+ and Go needed).
GO ?= go

.PHONY: standins test vet fmt demo

standins:
	scripts/standins

test: standins
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt:
	$(GO) fmt ./...

demo:
	$(GO) run ./examples/retl demo
