# Replays fuzz/corpus through the fuzz target's entry point as a plain program (no libFuzzer,
# any compiler), so the seeds and regression inputs run in every ctest. include() this from
# tests/CMakeLists.txt.
add_executable(replay_corpus ${PROJECT_SOURCE_DIR}/fuzz/replay_corpus.c
  ${PROJECT_SOURCE_DIR}/fuzz/fuzz_trace_reader.c)
target_link_libraries(replay_corpus PRIVATE ms_analysis)
add_test(NAME fuzz_corpus_replay COMMAND replay_corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus)
