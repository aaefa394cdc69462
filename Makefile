# Everyday tasks. `make test` installs the stand-ins first, so it works on a
# fresh clone (Python 3.11+, Node 20+ and Go needed): scripts/standins says
# what it downloads (fakesnow and moto from PyPI into .venv, jsforce from npm
# into sink/salesforce/sftest/jsforcecheck/node_modules, go-salesforce into
# the Go module cache, Debian's chromium with apt-get when run as root) and
# downloads nothing already installed, so `make test` runs offline once they
# are.
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
