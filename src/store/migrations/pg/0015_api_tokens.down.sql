-- Back to no API tokens: every token is forgotten.
DROP TABLE api_tokens;
