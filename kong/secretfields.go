package kong

// schemaSecrets are the fields that Kong 3.9's schemas (kong/db/schema/
// entities, kong/plugins/*/schema.lua and daos.lua, kong/llm/schemas,
// kong/tools/redis/schema.lua, at tag 3.9.3) mark encrypted = true or
// referenceable = true, the mark of a value that may be a credential,
// with the deprecated shorthand fields that stand for them. A path is
// section[name=plugin].field.field...: the section whose entities hold
// the field (nested or top-level), the plugin for plugins, then the
// field's path in the entity; "*" is every value of a map.
var schemaSecrets = []string{
	// Core entities.
	"certificates.cert", "certificates.key", "certificates.cert_alt", "certificates.key_alt",
	"keys.jwk", "keys.pem.private_key", "keys.pem.public_key",
	// Entities of bundled plugins.
	"basicauth_credentials.password",
	"oauth2_credentials.client_secret",

	"plugins[name=acme].config.account_email",
	"plugins[name=acme].config.eab_kid",
	"plugins[name=acme].config.eab_hmac_key",
	"plugins[name=acme].config.storage_config.redis.username",
	"plugins[name=acme].config.storage_config.redis.password",
	"plugins[name=acme].config.storage_config.redis.auth",
	"plugins[name=acme].config.storage_config.consul.token",
	"plugins[name=acme].config.storage_config.vault.token",

	"plugins[name=ai-proxy].config.auth.header_name",
	"plugins[name=ai-proxy].config.auth.header_value",
	"plugins[name=ai-proxy].config.auth.param_name",
	"plugins[name=ai-proxy].config.auth.param_value",
	"plugins[name=ai-proxy].config.auth.gcp_service_account_json",
	"plugins[name=ai-proxy].config.auth.aws_access_key_id",
	"plugins[name=ai-proxy].config.auth.aws_secret_access_key",
	"plugins[name=ai-request-transformer].config.llm.auth.header_name",
	"plugins[name=ai-request-transformer].config.llm.auth.header_value",
	"plugins[name=ai-request-transformer].config.llm.auth.param_name",
	"plugins[name=ai-request-transformer].config.llm.auth.param_value",
	"plugins[name=ai-request-transformer].config.llm.auth.gcp_service_account_json",
	"plugins[name=ai-request-transformer].config.llm.auth.aws_access_key_id",
	"plugins[name=ai-request-transformer].config.llm.auth.aws_secret_access_key",
	"plugins[name=ai-response-transformer].config.llm.auth.header_name",
	"plugins[name=ai-response-transformer].config.llm.auth.header_value",
	"plugins[name=ai-response-transformer].config.llm.auth.param_name",
	"plugins[name=ai-response-transformer].config.llm.auth.param_value",
	"plugins[name=ai-response-transformer].config.llm.auth.gcp_service_account_json",
	"plugins[name=ai-response-transformer].config.llm.auth.aws_access_key_id",
	"plugins[name=ai-response-transformer].config.llm.auth.aws_secret_access_key",

	"plugins[name=aws-lambda].config.aws_key",
	"plugins[name=aws-lambda].config.aws_secret",
	"plugins[name=aws-lambda].config.aws_assume_role_arn",

	"plugins[name=azure-functions].config.apikey",
	"plugins[name=azure-functions].config.clientid",

	"plugins[name=datadog].config.host",

	"plugins[name=http-log].config.http_endpoint",
	"plugins[name=http-log].config.headers.*",

	"plugins[name=loggly].config.key",

	"plugins[name=oauth2].config.provision_key",

	"plugins[name=opentelemetry].config.traces_endpoint",
	"plugins[name=opentelemetry].config.logs_endpoint",
	"plugins[name=opentelemetry].config.endpoint",
	"plugins[name=opentelemetry].config.headers.*",

	"plugins[name=rate-limiting].config.redis.username",
	"plugins[name=rate-limiting].config.redis.password",
	"plugins[name=rate-limiting].config.redis_username",
	"plugins[name=rate-limiting].config.redis_password",
	"plugins[name=response-ratelimiting].config.redis.username",
	"plugins[name=response-ratelimiting].config.redis.password",
	"plugins[name=response-ratelimiting].config.redis_username",
	"plugins[name=response-ratelimiting].config.redis_password",

	"plugins[name=session].config.secret",

	"plugins[name=standard-webhooks].config.secret_v1",
}

// credentialFields are credentials Kong's schemas do not mark: the keys,
// secrets, tokens and codes of consumers' credentials, which Kong itself
// generates when they are left out.
var credentialFields = []string{
	"keyauth_credentials.key",
	"jwt_secrets.secret",
	"hmacauth_credentials.secret",
	"oauth2_credentials.client_secret",
	"oauth2_tokens.access_token", "oauth2_tokens.refresh_token",
	"oauth2_authorization_codes.code",
}
