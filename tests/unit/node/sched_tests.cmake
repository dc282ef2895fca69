# Scheduler unit tests (included by tests/unit/node/CMakeLists.txt when present). The pure
# parts (queue, admission, batch formation) are compiled in directly: no processes needed.
set(SCHED_SRC ${CMAKE_SOURCE_DIR}/src/node)
inferd_add_unit_test(test_sched_queue
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sched_queue.c ${SCHED_SRC}/scheduler_queue.c
  LIBS inferd_common)
inferd_add_unit_test(test_sched_admission
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sched_admission.c ${SCHED_SRC}/admission.c
  LIBS inferd_common)
inferd_add_unit_test(test_batcher_form
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batcher_form.c ${SCHED_SRC}/batcher_form.c
          ${SCHED_SRC}/scheduler_queue.c
  LIBS inferd_common)

# The scheduler end to end with worker processes: a fake worker speaking the shm protocol.
if(TARGET inferd_node)
  add_executable(sched_fake_worker ${CMAKE_CURRENT_LIST_DIR}/sched_fake_worker.c)
  target_link_libraries(sched_fake_worker PRIVATE inferd_shm inferd_common)
  inferd_add_unit_test(test_sched_workers
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sched_workers.c
    LIBS inferd_node
    LABELS tsan
    TIMEOUT 120)
  target_compile_definitions(test_sched_workers PRIVATE
    SCHED_FAKE_WORKER="$<TARGET_FILE:sched_fake_worker>")
  add_dependencies(test_sched_workers sched_fake_worker)
endif()
