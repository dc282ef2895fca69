/* Answering a request inside the scheduler: the one place that sets its result, counts it,
 * and hands it to done() once no lock is held. Used by the submit path, the batcher, the
 * completion thread, the supervisor and drain. */
#ifndef NODE_SCHEDULER_ANSWER_H
#define NODE_SCHEDULER_ANSWER_H

#include "inferd/infer_request.h"
#include "inferd/scheduler.h"

/* Sets req's status and error, counts it in its model's counters and decrements the pending
 * count, then links it onto *done_list (call sched_finish_list after unlocking). Caller holds
 * the lock of req's model. */
void sched_answer(scheduler *s, infer_request *req, int status, const char *error,
                  infer_request **done_list);
/* Counts an answer with status (0, 499 cancelled, else HTTP) given took_ns after submit in
 * c: the outcome, the ok / cancelled / failed counters and the request histogram. Caller
 * holds the lock of c's model. The one place every answer is counted (batches, drain, the
 * response cache's hits and followers). */
void sched_count_answer(sched_counters *c, int status, int64_t took_ns);
/* Calls done() of every request on the list, in the order sched_answer saw them; a response cache leader's followers are
 * answered first (sched_cache_finish). Call with no scheduler lock held. */
void sched_finish_list(scheduler *s, infer_request *list);

#endif
