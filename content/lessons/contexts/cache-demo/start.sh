cat /app/message.txt
echo "libraries:" $(ls /app/libs)
