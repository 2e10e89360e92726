// The input of the `compile` workload: what cc1plus (gcc's C++ compiler proper) compiles, a
// short program whose headers (<regex>, <map>) make the compiler allocate about 1.6 million
// times on deep call stacks that change all the time. It is compiled, never run.
#include <map>
#include <regex>
#include <string>
#include <iostream>
int main()
{
    std::map<std::string, int> m;
    std::regex r("([a-z]+)=([0-9]+)");
    std::string s = "a=1 b=2 c=3";
    for (std::sregex_iterator i(s.begin(), s.end(), r), e; i != e; ++i)
        m[(*i)[1]] = std::stoi((*i)[2]);
    for (auto &kv : m)
        std::cout << kv.first << kv.second << "\n";
}
