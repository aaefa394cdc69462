package alert

import (
	"context"
	"fmt"
	"io"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// CheckEmailFunc checks alerts.email's connection as a validation without
// credentials can: its keys, not the values of its references.
type CheckEmailFunc func(conn *config.Connection, e config.EmailAlert) error

// Register makes a reverseetl.Runner built on r send the project file's
// alerts. email builds alerts.email's notifier (nil: the program sends no
// email, and a project that asks for it is invalid); check, when set,
// checks alerts.email's connection for a project loaded offline.
func Register(r *reverseetl.Registry, email EmailFunc, check CheckEmailFunc) {
	r.RegisterObserver("alerts", func(_ context.Context, b reverseetl.ObserverContext) (reverseetl.ProjectObserver, error) {
		p := b.Project
		build := email
		if p.Offline && email != nil {
			build = func(conn *config.Connection, e config.EmailAlert) (Notifier, io.Closer, error) {
				if check != nil {
					if err := check(conn, e); err != nil {
						return nil, nil, err
					}
				}
				return unresolvedNotifier{}, nil, nil
			}
		}
		ns, closer, err := Notifiers(p, build)
		if err != nil {
			return reverseetl.ProjectObserver{Closer: closer}, err
		}
		po := reverseetl.ProjectObserver{Closer: closer}
		if len(ns) > 0 {
			po.Observer = NewObserver(RulesFrom(p.Alerts), ns, WithLogger(b.Logger), WithRedactor(p.Redactor))
			po.Summary = fmt.Sprintf("%d alert notifiers", len(ns))
		}
		return po, nil
	})
}
