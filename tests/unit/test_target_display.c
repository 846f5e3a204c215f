/*
 * test_target_display.c - store_target_display(): every form of database
 * target scandb accepts comes out with its password masked, and nothing else
 * changed (it is what every message and the scrubbed argv show).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_int.h"

struct shown {
	const char *target;
	const char *want;
	const char *secret; /* must not appear in the output (NULL: none) */
};

static const struct shown cases[] = {
    {"/var/lib/scandb/scan.db", "/var/lib/scandb/scan.db", NULL},
    {"sqlite:/tmp/x.db", "sqlite:/tmp/x.db", NULL},
    {"postgresql://scandb@127.0.0.1/scans", "postgresql://scandb@127.0.0.1/scans", NULL},
    {"postgresql://u:S3cret@127.0.0.1:5432/db", "postgresql://u:***@127.0.0.1:5432/db", "S3cret"},
    {"postgres://u:S3cret@127.0.0.1/db?sslmode=require",
     "postgres://u:***@127.0.0.1/db?sslmode=require", "S3cret"},
    /* a password holding '?' or '@': the user info ends at the last '@' before the path */
    {"postgresql://u:pa?ss@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db", "pa?ss"},
    {"postgresql://u:p@w@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db", "p@w"},
    {"postgresql://u:Zq/S3cret@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db", "S3cret"},
    /* over-masking a '@' in the query is the price of that */
    {"postgresql://127.0.0.1:5432/db?user=a@b", "postgresql://127.0.0.1:***@b", NULL},
    /* libpq cannot parse it (its message would quote the password): all hidden */
    {"postgresql://u:%zzS3cret@127.0.0.1/db", "postgresql://***", "S3cret"},
    {"postgresql://u:S3cret@[::1/db", "postgresql://***", "S3cret"},
    {"pg:host=x passwrd=S3cret", "pg:***", "S3cret"},
    {"pg:host=x password='S3cret", "pg:***", "S3cret"},
    {"pg:postgresql://h/db?password=S3%zzcret", "pg:postgresql://***", "cret"},
    {"postgresql://127.0.0.1/db?user=u&password=S3cret&sslmode=disable",
     "postgresql://127.0.0.1/db?user=u&password=***&sslmode=disable", "S3cret"},
    {"postgresql://127.0.0.1/db?password=S3cret", "postgresql://127.0.0.1/db?password=***",
     "S3cret"},
    {"pg:host=127.0.0.1 password=S3cret dbname=x", "pg:host=127.0.0.1 password=*** dbname=x",
     "S3cret"},
    {"pg:host=127.0.0.1 password = 'S3 cr\\'et' dbname=x",
     "pg:host=127.0.0.1 password = '***' dbname=x", "cr\\'et"},
    {"postgresql:dbname=x password=S3cret", "postgresql:dbname=x password=***", "S3cret"},
    /* a URI behind the prefix is a URI */
    {"pg:postgresql://u:S3cret@127.0.0.1/db", "pg:postgresql://u:***@127.0.0.1/db", "S3cret"},
    /* "password" inside another word is not the keyword */
    {"pg:dbname=mypassword=x", "pg:dbname=mypassword=x", NULL},
    /* issue 17: what libpq reads as a secret, however it is spelled */
    {"postgresql://u@127.0.0.1/db?pass%77ord=S3cret", "postgresql://u@127.0.0.1/db?pass%77ord=***",
     "S3cret"},
    {"postgresql://h/db?%70assword=S3cret&sslmode=disable",
     "postgresql://h/db?%70assword=***&sslmode=disable", "S3cret"},
    {"postgresql://h/db?password=S3%63ret", "postgresql://h/db?password=***", "S3%63ret"},
    {"postgresql://u:S3cret@h/db?password=Other1", "postgresql://u:***@h/db?password=***",
     "Other1"},
    {"pg:postgresql://h/db?pass%77ord=S3cret", "pg:postgresql://h/db?pass%77ord=***", "S3cret"},
    {"postgresql://h/db?sslpassword=S3cret", "postgresql://h/db?sslpassword=***", "S3cret"},
    {"postgresql://h/db?sslpass%77ord=S3cret", "postgresql://h/db?sslpass%77ord=***", "S3cret"},
    {"pg:host=x sslpassword=S3cret dbname=y", "pg:host=x sslpassword=*** dbname=y", "S3cret"},
    {"pg:host=x sslpassword='S3 cret'", "pg:host=x sslpassword='***'", "cret"},
    /* an escaped space is part of the value */
    {"pg:host=x password=abc\\ def dbname=y", "pg:host=x password=*** dbname=y", "def"},
    {"pg:host=x password=abc\\", "pg:host=x password=***", "abc"},
    /* every isspace() byte separates, as in libpq */
    {"pg:host=x\vpassword=S3cret", "pg:host=x\vpassword=***", "S3cret"},
    {"pg:host=x\rpassword=S3cret", "pg:host=x\rpassword=***", "S3cret"},
    {"pg:host=x\fpassword=S3cret", "pg:host=x\fpassword=***", "S3cret"},
    {"pg:\vpassword\f=\rS3cret\vdbname=y", "pg:\vpassword\f=\r***\vdbname=y", "S3cret"},
    /* libpq skips spaces after '=': the value is the next word */
    {"pg:host=x password= S3cret", "pg:host=x password= ***", "S3cret"},
    {"pg:password=a password=S3cret", "pg:password=*** password=***", "S3cret"},
    /* neither URI nor key=value: libpq takes it as a database name */
    {"pg:mydb", "pg:mydb", NULL},
};

static void test_masks_passwords(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[512];

		store_target_display(cases[i].target, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: shown as %s, want %s", cases[i].target, out, cases[i].want);
		if (cases[i].secret && strstr(out, cases[i].secret))
			fail_msg("%s: the password is visible in %s", cases[i].target, out);
	}
}

/* The decoded values libpq will use, for the redaction of messages. */
static void test_secret_values(void **state)
{
	static const struct {
		const char *target, *value;
	} v[] = {
	    {"postgresql://h/db?pass%77ord=S3%63ret", "S3cret"},
	    {"postgresql://u:p%40ss@h/db", "p@ss"},
	    {"pg:host=x password='a\\'b c'", "a'b c"},
	    {"pg:host=x password=abc\\ def", "abc def"},
	    {"pg:sslpassword=k3y", "k3y"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct store__target_secrets ts;

		assert_int_equal(store__target_secrets(v[i].target, &ts), 0);
		assert_false(ts.opaque);
		assert_int_equal(ts.nvalues, 1);
		assert_string_equal(ts.values[0], v[i].value);
		store__target_secrets_free(&ts);
	}
}

static void test_bounded(void **state)
{
	char out[16];

	(void)state;
	/* cut to the buffer, always terminated, and still no password */
	store_target_display("postgresql://u:S3cret@127.0.0.1/db", out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_null(strstr(out, "S3c"));
	assert_string_equal(store_target_display(NULL, out, sizeof(out)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_masks_passwords),
	    cmocka_unit_test(test_secret_values),
	    cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
