// Benchmark workload (C++): standard-library allocation patterns through operator new/delete:
// std::vector push_back growth, std::map and std::unordered_map insert/erase, and std::string
// concatenation. Argument: rounds (default 200); prints only a checksum.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace
{

uint64_t rng = 1;

uint32_t next_rand()
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(rng >> 33);
}

// Vectors of varied final sizes grown one element at a time, no reserve().
uint64_t vectors()
{
    uint64_t sum = 0;
    for (int i = 0; i < 200; i++) {
        std::vector<uint32_t> v;
        uint32_t n = 1 + next_rand() % 2000;
        for (uint32_t j = 0; j < n; j++)
            v.push_back(j ^ n);
        std::vector<std::vector<uint8_t>> nested;
        for (uint32_t j = 0; j < n / 16; j++)
            nested.emplace_back(1 + j % 64, static_cast<uint8_t>(j));
        sum += v.size() + v.back() + nested.size();
    }
    return sum;
}

// Ordered and hashed maps with a working set that keeps turning over.
uint64_t maps()
{
    std::map<uint32_t, uint64_t> ordered;
    std::unordered_map<uint32_t, std::string> hashed;
    uint64_t sum = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t k = next_rand() % 4096;
        if (i % 3 == 2) {
            sum += ordered.erase(k) + hashed.erase(k);
        } else {
            ordered[k] += static_cast<uint64_t>(i);
            hashed[k] =
                std::string(static_cast<size_t>(16 + k % 48), 'a' + static_cast<char>(k % 26));
        }
    }
    for (const auto &kv : ordered)
        sum += kv.second;
    return sum + hashed.size();
}

// Strings built by repeated concatenation, past the small-string buffer.
uint64_t strings()
{
    uint64_t sum = 0;
    for (int i = 0; i < 500; i++) {
        std::string s;
        uint32_t parts = 1 + next_rand() % 100;
        for (uint32_t j = 0; j < parts; j++)
            s += std::to_string(next_rand()) + ",";
        std::string copy = s + s;
        sum += copy.size() + static_cast<unsigned char>(copy[copy.size() / 2]);
    }
    return sum;
}

} // namespace

int main(int argc, char **argv)
{
    long rounds = 200;
    if (argc > 1) {
        char *end;
        rounds = std::strtol(argv[1], &end, 10);
        if (end == argv[1] || *end || rounds <= 0) {
            std::fprintf(stderr, "usage: %s [ROUNDS]  (default 200)\n", argv[0]);
            return 2;
        }
    }
    uint64_t sum = 0;
    for (long r = 0; r < rounds; r++)
        sum = sum * 31 + vectors() + maps() + strings();
    std::printf("%016" PRIx64 "\n", sum);
    return 0;
}
