/*
 * job_retry.c - the whole-job retry's backoff (app/job_retry.h).
 */
#include "app/job_retry.h"

const struct retry_backoff app_job_retry = {
    .first_us = 500000, .max_doublings = 3, .jitter_pct = 50};
