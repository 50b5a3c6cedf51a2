# cmake -DIN=file -DOUT=file.inc -P embed_text.cmake: IN's text as one C++ raw string literal, so
# that a page kept as its own file (pick/review.html) can be built into the program.
file(READ "${IN}" text)
string(FIND "${text}" ")cupick_text\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} holds the raw string's delimiter )cupick_text\"")
endif()
file(WRITE "${OUT}.tmp" "R\"cupick_text(${text})cupick_text\"\n")
file(RENAME "${OUT}.tmp" "${OUT}")
