// Package awssm resolves ${aws-sm:SECRET_ID} and ${aws-sm:SECRET_ID#key}
// references in retl's configuration from AWS Secrets Manager.
//
// SECRET_ID is a secret's name or full ARN. Without #key the reference is
// the secret's whole SecretString; with #key the SecretString must be a
// JSON object and the reference is its top-level key: a string as it is, a
// number or boolean as its JSON text. Secrets stored as SecretBinary are
// refused. Each secret is fetched once per Resolver, however many
// references name it.
//
// Register it with the config package, either built on first use from the
// project file's secrets.aws section (region, endpoint):
//
//	project, err := config.Load(ctx, dir, config.WithResolverFactory(awssm.Scheme, awssm.Factory))
//
// or built by the program:
//
//	r, err := awssm.New(ctx, awssm.Options{Region: "eu-west-1"})
//	...
//	project, err := config.Load(ctx, dir, config.WithResolver(awssm.Scheme, r))
//
// # Credentials and permissions
//
// Credentials come from the AWS SDK's default chain: environment variables,
// shared config and credentials files (AWS_PROFILE), web identity (EKS, and
// CI systems with OIDC such as GitLab and GitHub), ECS task roles and EC2
// instance roles. The region comes from Options.Region, else AWS_REGION or
// the shared config.
//
// The identity needs, on every secret the configuration references:
//
//	secretsmanager:GetSecretValue   on the secrets' ARNs
//	kms:Decrypt                     on the KMS key, only for secrets encrypted
//	                                with a customer-managed key (the AWS
//	                                managed key aws/secretsmanager needs none)
//
// A minimal IAM policy:
//
//	{
//	  "Version": "2012-10-17",
//	  "Statement": [
//	    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
//	     "Resource": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/retl/*"},
//	    {"Effect": "Allow", "Action": "kms:Decrypt",
//	     "Resource": "arn:aws:kms:eu-west-1:123456789012:key/KEY-ID",
//	     "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}}
//	  ]
//	}
//
// Secret ARNs end in a random six-character suffix, so grant on a name
// prefix with a wildcard as above rather than on an exact ARN. ListSecrets
// and DescribeSecret are not needed.
//
// # Errors
//
// Errors name the secret and the key and carry the AWS error code
// (aws-sm: secret "prod/retl/sf": ResourceNotFoundException: ...), never a
// secret's value: a secret that is not valid JSON is reported without the
// parser's message, which would quote the text around the fault.
package awssm
