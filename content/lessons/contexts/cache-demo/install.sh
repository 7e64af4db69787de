# Stands in for a package manager: slow, and driven by deps.txt alone.
for lib in $(cat deps.txt); do
  echo "installing $lib"
  sleep 1
  mkdir -p /app/libs
  echo "$lib 1.0" > "/app/libs/$lib"
done
