package awssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/retl-go/retl/config"
)

// Scheme is the reference scheme the resolver is registered under:
// ${aws-sm:...}.
const Scheme = "aws-sm"

// Options configure New.
type Options struct {
	// Region is the AWS region of the secrets; "" takes it from the
	// environment or the shared config.
	Region string
	// Endpoint overrides the Secrets Manager endpoint (a VPC endpoint, or a
	// stand-in in tests); "" uses the region's.
	Endpoint string
	// Client, when set, is used as it is, and Region and Endpoint are
	// ignored.
	Client *secretsmanager.Client
}

var _ config.SecretResolver = (*Resolver)(nil)

// Resolver resolves aws-sm references. It is safe for concurrent use.
type Resolver struct {
	client *secretsmanager.Client

	mu sync.Mutex
	// fetches holds one entry per secret id: in flight, or done and
	// successful. Failed fetches are removed so a later Resolve tries again.
	fetches map[string]*fetch
}

// testHookJoined, when set by a test, is called when a Resolve waits for a
// fetch another Resolve started.
var testHookJoined func(id string)

// fetch is one GetSecretValue call that every Resolve of its secret id
// shares.
type fetch struct {
	done  chan struct{} // closed when value and err are set
	value string
	err   error
}

// New returns a Resolver using the AWS SDK's default credential chain.
func New(ctx context.Context, o Options) (*Resolver, error) {
	if o.Client != nil {
		return &Resolver{client: o.Client, fetches: map[string]*fetch{}}, nil
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("%s: endpoint %q is not an absolute URL such as https://secretsmanager.eu-west-1.amazonaws.com", Scheme, o.Endpoint)
		}
	}
	var load []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		load = append(load, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("%s: loading AWS configuration: %w", Scheme, err)
	}
	// Without a region the SDK fails only at the first call, with a message
	// that does not say where a region comes from.
	if cfg.Region == "" {
		return nil, fmt.Errorf("%s: no AWS region: set secrets.aws.region in the project file, or AWS_REGION", Scheme)
	}
	client := secretsmanager.NewFromConfig(cfg, func(so *secretsmanager.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &Resolver{client: client, fetches: map[string]*fetch{}}, nil
}

// Resolve returns the value ref names: "SECRET_ID" for the whole secret,
// "SECRET_ID#key" for a top-level key of a JSON secret.
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	// Secret names cannot contain '#', so the first one ends the id and a
	// key may contain more.
	id, key, hasKey := strings.Cut(ref, "#")
	if id == "" {
		return "", fmt.Errorf("%s: reference %q names no secret: want SECRET_ID or SECRET_ID#key", Scheme, ref)
	}
	if hasKey && key == "" {
		return "", &Error{SecretID: id, Reason: "empty key after '#': want SECRET_ID#key"}
	}
	value, err := r.secret(ctx, id)
	if err != nil {
		return "", err
	}
	if !hasKey {
		return value, nil
	}
	return field(id, key, value)
}

// secret returns the SecretString of id, fetching it at most once at a time
// and keeping it once fetched.
func (r *Resolver) secret(ctx context.Context, id string) (string, error) {
	for {
		r.mu.Lock()
		f, ok := r.fetches[id]
		if !ok {
			f = &fetch{done: make(chan struct{})}
			r.fetches[id] = f
		}
		r.mu.Unlock()
		if !ok {
			r.run(ctx, id, f)
		} else if testHookJoined != nil {
			testHookJoined(id)
		}

		select {
		case <-f.done:
		case <-ctx.Done():
			return "", &Error{SecretID: id, Reason: ctx.Err().Error(), Err: ctx.Err()}
		}
		// A fetch that another caller started ended because that caller's
		// context did: no answer for this caller, whose context is live.
		if ok && f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
			continue
		}
		return f.value, f.err
	}
}

// run performs f's call and publishes its result.
func (r *Resolver) run(ctx context.Context, id string, f *fetch) {
	f.value, f.err = r.get(ctx, id)
	if f.err != nil {
		r.mu.Lock()
		delete(r.fetches, id)
		r.mu.Unlock()
	}
	close(f.done)
}

func (r *Resolver) get(ctx context.Context, id string) (string, error) {
	out, err := r.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", awsError(id, err)
	}
	if out.SecretString == nil {
		if out.SecretBinary != nil {
			return "", &Error{SecretID: id, Reason: "is a binary secret (SecretBinary); only string secrets (SecretString) can be referenced"}
		}
		return "", &Error{SecretID: id, Reason: "has no SecretString"}
	}
	return *out.SecretString, nil
}

// awsError keeps the AWS error code and message, which name the secret at
// most, and drops the SDK's request details.
func awsError(id string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &Error{SecretID: id, Reason: api.ErrorCode() + ": " + api.ErrorMessage(), Err: err}
	}
	return &Error{SecretID: id, Reason: err.Error(), Err: err}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// field returns key of the JSON object secret as text.
func field(id, key, secret string) (string, error) {
	var obj map[string]any
	// The decoder's message is not passed on: it can quote the secret.
	// Valid first, because a Decoder stops at the end of the first value
	// and would accept trailing text.
	dec := json.NewDecoder(strings.NewReader(secret))
	dec.UseNumber() // numbers keep their text: 1.50 stays 1.50
	if !json.Valid([]byte(secret)) || dec.Decode(&obj) != nil || obj == nil {
		return "", &Error{SecretID: id, Key: key, Reason: "secret is not a JSON object, so a key cannot be selected from it"}
	}
	v, ok := obj[key]
	if !ok {
		return "", &Error{SecretID: id, Key: key, Reason: "no such key in the secret"}
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", &Error{SecretID: id, Key: key, Reason: "value is null"}
	case map[string]any:
		return "", &Error{SecretID: id, Key: key, Reason: "value is a JSON object; only strings, numbers and booleans can be referenced"}
	default: // []any, the only other type encoding/json produces
		return "", &Error{SecretID: id, Key: key, Reason: "value is a JSON array; only strings, numbers and booleans can be referenced"}
	}
}

// Error is a failed resolution. Its message names the secret id and key,
// never the secret's value.
type Error struct {
	SecretID string
	// Key is the JSON key asked for, or "".
	Key    string
	Reason string
	// Err is the underlying error (from the AWS SDK or a context), or nil.
	Err error
}

func (e *Error) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("%s: secret %q key %q: %s", Scheme, e.SecretID, e.Key, e.Reason)
	}
	return fmt.Sprintf("%s: secret %q: %s", Scheme, e.SecretID, e.Reason)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Factory makes a Resolver from the project file's secrets.aws section
// (region, endpoint). Register it so the AWS client is built only when a
// configuration references aws-sm:
//
//	config.Load(ctx, dir, config.WithResolverFactory(awssm.Scheme, awssm.Factory))
func Factory(ctx context.Context, c config.SecretsConfig) (config.SecretResolver, error) {
	return New(ctx, Options{Region: c.AWS.Region, Endpoint: c.AWS.Endpoint})
}
